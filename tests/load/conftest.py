"""The load/attack stage (scripts/test.sh load): the integration suite's fixtures (test PKI,
model server, the real binary on free ports) reused, loaded under another module name so both
folders' conftest files can live side by side."""
import importlib.util
import sys
from pathlib import Path

INTEGRATION = Path(__file__).resolve().parents[1] / "integration"
sys.path.insert(0, str(INTEGRATION))
sys.path.insert(0, str(Path(__file__).resolve().parent))
_spec = importlib.util.spec_from_file_location("integration_conftest", INTEGRATION / "conftest.py")
ic = importlib.util.module_from_spec(_spec)
sys.modules["integration_conftest"] = ic
_spec.loader.exec_module(ic)

pki, model, start_router = ic.pki, ic.model, ic.start_router  # fixtures
