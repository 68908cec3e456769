from services.casework.app import build
from services.kit.service import run

run(build)
