// The paper's square ring (fem_spin.ring.add_ring_model, 2D) as a Gmsh script: a closed square
// loop of centreline side L (corners at (0,0), (L,0), (L,L), (0,L)) and width W, cut into four
// corner blocks (corner_0..3) and four sides (side_0..3, counter-clockwise from the bottom);
// every exterior facet is `wall`. Graded to h_corner at the corner blocks. Lengths in nm.
SetFactory("OpenCASCADE");
DefineConstant[
  L = {100, Name "Parameters/side L [nm]"},
  W = {4, Name "Parameters/width W [nm]"},
  h_corner = {0.15, Name "Parameters/element size at the corners [nm]"},
  h_far = {0.5, Name "Parameters/element size along the sides [nm]"},
  d = {5 * h_corner, Name "Parameters/zone kept at h_corner [nm]"}
];
h = W / 2;
Rectangle(1) = {-h, -h, 0, W, W};          // corner_0
Rectangle(2) = {L - h, -h, 0, W, W};       // corner_1
Rectangle(3) = {L - h, L - h, 0, W, W};    // corner_2
Rectangle(4) = {-h, L - h, 0, W, W};       // corner_3
Rectangle(5) = {h, -h, 0, L - W, W};       // side_0
Rectangle(6) = {L - h, h, 0, W, L - W};    // side_1
Rectangle(7) = {h, L - h, 0, L - W, W};    // side_2
Rectangle(8) = {-h, h, 0, W, L - W};       // side_3
BooleanFragments{ Surface{1:8}; Delete; }{}
e = 1e-6 * L;
Physical Surface("side_0", 1) = Surface In BoundingBox{h - e, -h - e, -1, L - h + e, h + e, 1};
Physical Surface("side_1", 2) = Surface In BoundingBox{L - h - e, h - e, -1, L + h + e, L - h + e, 1};
Physical Surface("side_2", 3) = Surface In BoundingBox{h - e, L - h - e, -1, L - h + e, L + h + e, 1};
Physical Surface("side_3", 4) = Surface In BoundingBox{-h - e, h - e, -1, h + e, L - h + e, 1};
c() = {};
For i In {0:3}
  cx = (i == 1 || i == 2) ? L : 0;
  cy = (i >= 2) ? L : 0;
  s() = Surface In BoundingBox{cx - h - e, cy - h - e, -1, cx + h + e, cy + h + e, 1};
  Physical Surface(Sprintf("corner_%g", i), 5 + i) = s();
  c() += Abs(Boundary{ Surface{s()}; });
EndFor
Physical Curve("wall", 1) = Abs(CombinedBoundary{ Surface{:}; });

Field[1] = Distance;
Field[1].CurvesList = {c()};
Field[1].Sampling = 50;
Field[2] = Threshold;
Field[2].InField = 1;
Field[2].SizeMin = h_corner;
Field[2].SizeMax = h_far;
Field[2].DistMin = d;
Field[2].DistMax = d + (h_far - h_corner) / 0.2;
Background Field = 2;
Mesh.MeshSizeExtendFromBoundary = 0;
Mesh.MeshSizeFromPoints = 0;
Mesh.MeshSizeFromCurvature = 0;
