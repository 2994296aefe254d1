from api.api_fixtures import api  # noqa: F401  (the fixture)
