"""Meshes: Gmsh builders of the paper's slab and ring, and users' .geo/.msh files."""
