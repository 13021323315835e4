"""The Ray Serve application: intervention-enabled scoring over HTTP (see serve/app.py)."""
