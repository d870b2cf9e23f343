import sys

from .cli import main
from .facemesh import divert_native_logs

divert_native_logs()
sys.exit(main())
