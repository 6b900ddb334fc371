"""The HTTP API (U1, U2, A1): FastAPI under ``/v1``, a thin edge over the book.

- ``schemas``   request/response bodies (pydantic), separate from domain types
- ``problems``  THE table from domain errors to RFC 9457 problem+json
- ``access``    THE table from route to roles, and the customer-key fence
- ``routes``    the endpoints: parse, check access, call the book, render
- ``edge``      what routes share: authentication, parameter types, the one write path
- ``render``    domain values to response bodies
- ``app``       the app factory, middleware, OpenAPI document
- ``observability``  JSON logs and Prometheus metrics

It imports the book, bootstrap and services, never storage; the CLI and the API never
import each other.
"""
