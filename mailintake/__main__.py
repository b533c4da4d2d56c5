from mailintake.cli import main

main()
