"""The clerk's web console: Starlette, Jinja2 templates and htmx, all shipped in the package.

Only ``mailintake.cli`` and ``mailintake.service`` import it; it asks the
database through ``mailintake.store`` alone.
"""
