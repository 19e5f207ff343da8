from firf.cli import main

raise SystemExit(main())
