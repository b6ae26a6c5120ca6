"""Serving stage: FastAPI `/ask` API with the Gradio chat mounted at `/`."""
