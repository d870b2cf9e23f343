import sys

from analysis.facemesh import divert_native_logs

from .cli import main

divert_native_logs()
sys.exit(main())
