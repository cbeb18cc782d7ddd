// muMAG standard problem 4: a permalloy film L x w x t (500 x 125 x 3 nm), centred at the
// origin, long axis x. Region: film. Lengths in nm. Used by demos/sp4.toml and tests/test_sp4.py.
SetFactory("OpenCASCADE");
DefineConstant[
  L = {500, Name "Parameters/length (x) [nm]"},
  w = {125, Name "Parameters/width (y) [nm]"},
  t = {3, Name "Parameters/thickness (z) [nm]"},
  h = {3, Name "Parameters/element size [nm]"}
];
Box(1) = {-L / 2, -w / 2, -t / 2, L, w, t};
Physical Volume("film", 1) = {1};
// sizes on the film's points, not Mesh.MeshSizeMax: the demag's air ball around it
// (fem_spin.geometry.air) grades from h to far coarser cells
MeshSize{ PointsOf{ Volume{1}; } } = h;
Mesh.MeshSizeFromCurvature = 0;
