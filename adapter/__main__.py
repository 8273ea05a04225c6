from adapter.local.cli import main

raise SystemExit(main())
