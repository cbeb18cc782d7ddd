// A point contact on a ferromagnetic film: a copper pillar (diameter dc, height hc) stands on
// the centre of a film (side a x a, thickness t). Current enters through the pillar's top and
// leaves through the film's rim, crowding under the contact. Lengths in nm.
// Regions: film, contact. Boundaries: tip (the pillar's top), rim (the film's four sides),
// free (every other outer face).
SetFactory("OpenCASCADE");
DefineConstant[
  a = {60, Name "Parameters/film side [nm]"},
  t = {4, Name "Parameters/film thickness [nm]"},
  dc = {8, Name "Parameters/contact diameter [nm]"},
  hc = {6, Name "Parameters/contact height [nm]"},
  h = {3, Name "Parameters/element size [nm]"},
  h_contact = {1, Name "Parameters/element size at the contact [nm]"}
];
Box(1) = {-a/2, -a/2, 0, a, a, t};
Cylinder(2) = {0, 0, t, 0, 0, hc, dc/2};
BooleanFragments{ Volume{1}; Delete; }{ Volume{2}; Delete; }
e = 1e-6 * a;
Physical Volume("film", 1) = Volume In BoundingBox{-a/2 - e, -a/2 - e, -e, a/2 + e, a/2 + e, t + e};
Physical Volume("contact", 2) = Volume In BoundingBox{-dc/2 - e, -dc/2 - e, t - e, dc/2 + e, dc/2 + e, t + hc + e};
tip() = Surface In BoundingBox{-dc/2 - e, -dc/2 - e, t + hc - e, dc/2 + e, dc/2 + e, t + hc + e};
Physical Surface("tip", 1) = tip();
rim() = Surface In BoundingBox{-a/2 - e, -a/2 - e, -e, -a/2 + e, a/2 + e, t + e};
rim() += Surface In BoundingBox{a/2 - e, -a/2 - e, -e, a/2 + e, a/2 + e, t + e};
rim() += Surface In BoundingBox{-a/2 - e, -a/2 - e, -e, a/2 + e, -a/2 + e, t + e};
rim() += Surface In BoundingBox{-a/2 - e, a/2 - e, -e, a/2 + e, a/2 + e, t + e};
Physical Surface("rim", 2) = rim();
free() = Abs(CombinedBoundary{ Volume{:}; });
free() -= tip();
free() -= rim();
Physical Surface("free", 3) = free();

Field[1] = Ball;
Field[1].Radius = dc;
Field[1].Thickness = 2 * dc;
Field[1].VIn = h_contact;
Field[1].VOut = h;
Field[1].ZCenter = t;
Background Field = 1;
Mesh.MeshSizeExtendFromBoundary = 0;
Mesh.MeshSizeFromPoints = 0;
Mesh.MeshSizeFromCurvature = 0;
