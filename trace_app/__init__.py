"""The Flet client (desktop, web, phone): arrives with the app issue."""
