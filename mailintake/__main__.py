from mailintake.entry import main

main()
