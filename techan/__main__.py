from techan.cli import main

raise SystemExit(main())
