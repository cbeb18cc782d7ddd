// A cylindrical nanowire along x, x in [-L/2, L/2], diameter d, for a domain wall at x = 0.
// The ends are reservoir contacts. Lengths in nm. Region: wire. Boundaries: left_end,
// right_end, surface. Graded to h_wall within `zone` of the wall's centre plane.
SetFactory("OpenCASCADE");
DefineConstant[
  L = {100, Name "Parameters/length [nm]"},
  d = {8, Name "Parameters/diameter [nm]"},
  h = {2, Name "Parameters/element size [nm]"},
  h_wall = {1, Name "Parameters/element size at the wall [nm]"},
  zone = {10, Name "Parameters/half-width of the refined zone [nm]"}
];
Cylinder(1) = {-L/2, 0, 0, L, 0, 0, d/2};
e = 1e-6 * L;
Physical Volume("wire", 1) = {1};
Physical Surface("left_end", 1) = Surface In BoundingBox{-L/2 - e, -d, -d, -L/2 + e, d, d};
Physical Surface("right_end", 2) = Surface In BoundingBox{L/2 - e, -d, -d, L/2 + e, d, d};
ends() = Surface In BoundingBox{-L/2 - e, -d, -d, -L/2 + e, d, d};
ends() += Surface In BoundingBox{L/2 - e, -d, -d, L/2 + e, d, d};
surf() = Abs(Boundary{ Volume{1}; });
surf() -= ends();
Physical Surface("surface", 3) = surf();

Field[1] = Box;
Field[1].VIn = h_wall;
Field[1].VOut = h;
Field[1].XMin = -zone; Field[1].XMax = zone;
Field[1].YMin = -d; Field[1].YMax = d;
Field[1].ZMin = -d; Field[1].ZMax = d;
Field[1].Thickness = zone;
Background Field = 1;
Mesh.MeshSizeExtendFromBoundary = 0;
Mesh.MeshSizeFromPoints = 0;
Mesh.MeshSizeFromCurvature = 0;
