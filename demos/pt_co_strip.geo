// A Pt/Co bilayer strip for spin-orbit torques: Pt (heavy metal) on z in [-t_pt, 0], Co on
// z in [0, t_co], a box L (along x, the current) by w (along y). Lengths in nm. Regions: Pt,
// Co. Boundaries: none named (every face free: no spin current out of the film). Used by
// demos/pt_co_bilayer.toml and, as a 1 nm column, by tests/test_spin_hall.py.
SetFactory("OpenCASCADE");
DefineConstant[
  L = {10, Name "Parameters/length along the current [nm]"},
  w = {6, Name "Parameters/width [nm]"},
  t_pt = {4, Name "Parameters/Pt thickness [nm]"},
  t_co = {1, Name "Parameters/Co thickness [nm]"},
  h = {0.5, Name "Parameters/element size [nm]"}
];
Box(1) = {-L / 2, -w / 2, -t_pt, L, w, t_pt};
Box(2) = {-L / 2, -w / 2, 0, L, w, t_co};
BooleanFragments{ Volume{1}; Delete; }{ Volume{2}; Delete; }
e = 1e-6 * (L + w + t_pt + t_co);
Physical Volume("Pt", 1) = Volume In BoundingBox{-L / 2 - e, -w / 2 - e, -t_pt - e, L / 2 + e, w / 2 + e, e};
Physical Volume("Co", 2) = Volume In BoundingBox{-L / 2 - e, -w / 2 - e, -e, L / 2 + e, w / 2 + e, t_co + e};
Mesh.MeshSizeMin = h;
Mesh.MeshSizeMax = h;
