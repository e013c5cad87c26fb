"""The HTTP service: the deployed model behind FastAPI, switched without dropping a request."""

# Every process of the service logs this way: the parent (`trip-duration serve`) and each uvicorn worker.
LOG_FORMAT = "%(asctime)s %(process)d %(levelname)s %(message)s"
