from mailintake.cli.entry import main

main()
