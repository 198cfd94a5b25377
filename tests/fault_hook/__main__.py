"""python -m tests.fault_hook FLASK-ARGS...: see tests/fault_hook/__init__.py."""
import sys

from tests.fault_hook import main

main(sys.argv[1:])
