from nexasync.cli import main

main()
