import sys

from adapter.runtime.main import main

raise SystemExit(main(sys.argv[1:]))
