"""A link-shortening service on Starlette and DynamoDB (PynamoDB): runs under uvicorn and, unchanged, in Lambda."""
