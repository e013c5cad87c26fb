"""The HTTP service: the deployed model behind FastAPI, switched without dropping a request."""
