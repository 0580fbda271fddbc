from mintlab.cli import main

main()
