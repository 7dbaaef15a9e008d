"""The JSON API under ``/api/v1``: each area declares its operations on an ``ApiRouter``;
the OpenAPI document is built from those same declarations, so it cannot drift from them."""
