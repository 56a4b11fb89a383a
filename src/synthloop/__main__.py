from synthloop.cli import main

main()
