// labs front-end behaviour (htmx 4 event hooks, CSRF header, live views); filled in by the app.
