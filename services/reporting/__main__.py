from services.kit.service import run
from services.reporting.app import build

run(build)
