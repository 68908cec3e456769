from services.funding.app import build
from services.kit.service import run

run(build)
