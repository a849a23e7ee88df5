"""The reverse-mode tape (Function, engine), grad modes, functional transforms and numerical checks."""
