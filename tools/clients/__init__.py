"""Platform adapters: the async clients production uses to talk to the serving platform, the agent
gateway, the MLflow registry, Prometheus and the Mistral API. All errors are in ``errors``."""
