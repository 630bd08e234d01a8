from ciwb.cli import main

main()
