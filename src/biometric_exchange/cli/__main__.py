from biometric_exchange.cli.main import app

app()
