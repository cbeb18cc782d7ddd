// A ferromagnetic spheroid (semi-axes a, a, c along z): the FMR demo (demos/fmr.toml) and the
// demagnetizing-field tests.
// Region: magnet. Boundary: surface. Lengths in nm.
SetFactory("OpenCASCADE");
DefineConstant[
  a = {8, Name "Parameters/semi-axis a (x, y) [nm]"},
  c = {8, Name "Parameters/semi-axis c (z) [nm]"},
  h = {1.6, Name "Parameters/element size [nm]"}
];
Sphere(1) = {0, 0, 0, 1};
Dilate {{0, 0, 0}, {a, a, c}} { Volume{1}; }
Physical Volume("magnet", 1) = {1};
Physical Surface("surface", 1) = Boundary{ Volume{1}; };
MeshSize{ PointsOf{ Volume{1}; } } = h;
Mesh.MeshSizeFromCurvature = 0;
