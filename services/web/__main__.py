from services.web.app import run

run()
