// Nanopillar spin valve: a cylinder of diameter 40 nm along z, ferromagnet 10 nm (fixed layer) /
// copper 5 nm (spacer) / ferromagnet 10 nm (free layer). The end faces are reservoir contacts.
// Lengths in nm. Regions: fixed, spacer, free. Boundaries: bottom (z = 0), top, side.
SetFactory("OpenCASCADE");
DefineConstant[
  R = {20, Name "Parameters/radius [nm]"},
  t_fixed = {10, Name "Parameters/fixed layer [nm]"},
  t_spacer = {5, Name "Parameters/spacer [nm]"},
  t_free = {10, Name "Parameters/free layer [nm]"},
  h = {2, Name "Parameters/element size [nm]"},
  h_interface = {1, Name "Parameters/element size at the interfaces [nm]"}
];
z1 = t_fixed; z2 = t_fixed + t_spacer; z3 = z2 + t_free;
Cylinder(1) = {0, 0, 0, 0, 0, z1, R};
Cylinder(2) = {0, 0, z1, 0, 0, t_spacer, R};
Cylinder(3) = {0, 0, z2, 0, 0, t_free, R};
BooleanFragments{ Volume{1}; Delete; }{ Volume{2, 3}; Delete; }
e = 1e-6 * z3;
Physical Volume("fixed", 1) = Volume In BoundingBox{-R - e, -R - e, -e, R + e, R + e, z1 + e};
Physical Volume("spacer", 2) = Volume In BoundingBox{-R - e, -R - e, z1 - e, R + e, R + e, z2 + e};
Physical Volume("free", 3) = Volume In BoundingBox{-R - e, -R - e, z2 - e, R + e, R + e, z3 + e};
Physical Surface("bottom", 1) = Surface In BoundingBox{-R - e, -R - e, -e, R + e, R + e, e};
Physical Surface("top", 2) = Surface In BoundingBox{-R - e, -R - e, z3 - e, R + e, R + e, z3 + e};
inner() = Surface In BoundingBox{-R - e, -R - e, z1 - e, R + e, R + e, z1 + e};
inner() += Surface In BoundingBox{-R - e, -R - e, z2 - e, R + e, R + e, z2 + e};
all() = Abs(CombinedBoundary{ Volume{:}; });
side() = all();
side() -= Surface In BoundingBox{-R - e, -R - e, -e, R + e, R + e, e};
side() -= Surface In BoundingBox{-R - e, -R - e, z3 - e, R + e, R + e, z3 + e};
Physical Surface("side", 3) = side();

// h_interface at the two interfaces (where the magnetization jumps), h elsewhere.
Field[1] = Distance;
Field[1].SurfacesList = {inner()};
Field[2] = Threshold;
Field[2].InField = 1;
Field[2].SizeMin = h_interface;
Field[2].SizeMax = h;
Field[2].DistMin = 2 * h_interface;
Field[2].DistMax = 2 * h_interface + 2 * (h - h_interface);
Background Field = 2;
Mesh.MeshSizeExtendFromBoundary = 0;
Mesh.MeshSizeFromPoints = 0;
Mesh.MeshSizeFromCurvature = 0;
