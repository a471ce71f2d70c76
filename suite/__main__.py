from suite.cli import main

if __name__ == "__main__":  # a multiprocessing child may import this module; it must not run the CLI again
    raise SystemExit(main())
