"""The read API over the warehouse (what the React frontend calls) and the owner's dashboard.

- `app`:       the FastAPI application (`create_app`), error shapes, docs, the dashboard's page
- `settings`:  every setting, from the environment
- `auth`:      the Java backend's JWTs (PyJWT, HS256), roles, the dashboard's cookie
- `store`:     read-only warehouse sessions, a connection pool, the data version
- `cache`:     answers kept until the warehouse's data changes
- `periods`:   the date range a request names
- `analytics`, `ml`, `reports`, `imports`, `session`: the routes
- `static/`:   the dashboard (no build step) and the vendored Chart.js and Swagger UI
- `server`:    `salesflow api`: uvicorn
"""
