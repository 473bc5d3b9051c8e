from tokenledger.cli import main

main()
