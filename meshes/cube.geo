// muMAG standard problem 3: a cube of edge L, centred at the origin. Region: cube. Lengths in
// nm. Used by demos/sp3.py (L in units of the exchange length).
SetFactory("OpenCASCADE");
DefineConstant[
  L = {48, Name "Parameters/edge [nm]"},
  h = {3, Name "Parameters/element size [nm]"}
];
Box(1) = {-L / 2, -L / 2, -L / 2, L, L, L};
Physical Volume("cube", 1) = {1};
// sizes on the cube's points: the demag's air ball around it grades to coarser cells
MeshSize{ PointsOf{ Volume{1}; } } = h;
Mesh.MeshSizeFromCurvature = 0;
