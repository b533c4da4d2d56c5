"""What every reading worker needs, loaded once, by the readers' forkserver.

The workers are forked from the forkserver, so what it imports here they have
from their first mail on: python-docx and lxml, Pillow with every plugin and
HEIF registered, mail-parser, inscriptis, tnefparse, numpy for the text
fingerprint. The main process never imports this module; it only unpickles
what the workers made of a mail, which needs none of these libraries.
"""

from __future__ import annotations

from mailintake import collector, logs

# Loaded with the collector off, then frozen: every worker inherits it all frozen.
with collector.loading():
    import mailparser  # noqa: F401  (the defects of every mail)
    import tnefparse.tnef  # noqa: F401  (Outlook's winmail.dat)
    import word_count  # noqa: F401  (字数)

    import mailintake.reading.mail  # the reading stage itself
    import mailintake.reading.wordpackage  # python-docx and lxml
    import mailintake.reading.workers  # noqa: F401  (the workers' entry points)
    from mailintake.reading import bodies, fingerprint, pictures

    pictures.formats()  # Pillow's plugins and HEIF, registered
    bodies.html_config()  # inscriptis, for mails written in HTML only
    fingerprint.bands({"预载"})  # numpy, and the permutations every signature uses

# A worker's log lines look like the command's, one line each; library chatter stays out.
logs.setup_worker()
