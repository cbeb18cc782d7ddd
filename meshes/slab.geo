// The paper's CPP slab (fem_spin.mesh.add_slab_model) as a Gmsh script: two ferromagnetic
// layers along x in [-L/2, L/2], the spacer (interface) at x = 0, graded to h_interface there.
// Lengths in nm. Override with `gmsh slab.geo -setnumber L 50 -setnumber dim 3 -3`, or from a
// case file (geometry.kind = "gmsh", geometry.file = "meshes/slab.geo").
SetFactory("OpenCASCADE");
DefineConstant[
  dim = {1, Choices{1, 2, 3}, Name "Parameters/dim"},
  L = {100, Name "Parameters/length L [nm]"},
  W = {2, Name "Parameters/width W [nm] (2D, 3D)"},
  h_interface = {0.15, Name "Parameters/element size at the interface [nm]"},
  h_far = {0.5, Name "Parameters/element size far from it [nm]"},
  d = {5 * h_interface, Name "Parameters/zone kept at h_interface [nm]"}
];
If (dim == 1)
  Point(1) = {-L/2, 0, 0}; Point(2) = {0, 0, 0}; Point(3) = {L/2, 0, 0};
  Line(1) = {1, 2}; Line(2) = {2, 3};
  Physical Curve("layer_left", 1) = {1};
  Physical Curve("layer_right", 2) = {2};
  Physical Point("left_end", 1) = {1};
  Physical Point("right_end", 2) = {3};
  Physical Point("interface", 3) = {2};
  iface() = {2};
ElseIf (dim == 2)
  Rectangle(1) = {-L/2, -W/2, 0, L/2, W};
  Rectangle(2) = {0, -W/2, 0, L/2, W};
  BooleanFragments{ Surface{1}; Delete; }{ Surface{2}; Delete; }
  Physical Surface("layer_left", 1) = Surface In BoundingBox{-L/2 - 1e-6, -W, -1, 1e-6, W, 1};
  Physical Surface("layer_right", 2) = Surface In BoundingBox{-1e-6, -W, -1, L/2 + 1e-6, W, 1};
  Physical Curve("left_end", 1) = Curve In BoundingBox{-L/2 - 1e-6, -W, -1, -L/2 + 1e-6, W, 1};
  Physical Curve("right_end", 2) = Curve In BoundingBox{L/2 - 1e-6, -W, -1, L/2 + 1e-6, W, 1};
  iface() = Curve In BoundingBox{-1e-6, -W, -1, 1e-6, W, 1};
  Physical Curve("interface", 3) = iface();
Else
  Box(1) = {-L/2, -W/2, -W/2, L/2, W, W};
  Box(2) = {0, -W/2, -W/2, L/2, W, W};
  BooleanFragments{ Volume{1}; Delete; }{ Volume{2}; Delete; }
  Physical Volume("layer_left", 1) = Volume In BoundingBox{-L/2 - 1e-6, -W, -W, 1e-6, W, W};
  Physical Volume("layer_right", 2) = Volume In BoundingBox{-1e-6, -W, -W, L/2 + 1e-6, W, W};
  Physical Surface("left_end", 1) = Surface In BoundingBox{-L/2 - 1e-6, -W, -W, -L/2 + 1e-6, W, W};
  Physical Surface("right_end", 2) = Surface In BoundingBox{L/2 - 1e-6, -W, -W, L/2 + 1e-6, W, W};
  iface() = Surface In BoundingBox{-1e-6, -W, -W, 1e-6, W, W};
  Physical Surface("interface", 3) = iface();
EndIf

// Size h_interface within d of the interface, growing linearly to h_far.
Field[1] = Distance;
If (dim == 1)
  Field[1].PointsList = {iface()};
ElseIf (dim == 2)
  Field[1].CurvesList = {iface()};
Else
  Field[1].SurfacesList = {iface()};
EndIf
Field[2] = Threshold;
Field[2].InField = 1;
Field[2].SizeMin = h_interface;
Field[2].SizeMax = h_far;
Field[2].DistMin = d;
Field[2].DistMax = d + (h_far - h_interface) / 0.2;
Background Field = 2;
Mesh.MeshSizeExtendFromBoundary = 0;
Mesh.MeshSizeFromPoints = 0;
Mesh.MeshSizeFromCurvature = 0;
