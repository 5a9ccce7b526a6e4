from firmware_sim.entry import main

raise SystemExit(main())
