// The Pt/Co bilayer of pt_co_strip.geo reduced to its thickness (1D along x): Pt on
// x in [-t_pt, 0], Co on [0, t_co]. With a uniform in-plane current nothing depends on the
// in-plane position, so the strip and this line give the same accumulation and torque per area
// (x here is the strip's z; the in-plane current goes along y; demos/pt_co_bilayer.py).
// Lengths in nm. Regions: Pt, Co. Boundaries: bottom (x = -t_pt), top (x = t_co).
DefineConstant[
  t_pt = {4, Name "Parameters/Pt thickness [nm]"},
  t_co = {1, Name "Parameters/Co thickness [nm]"},
  h = {0.05, Name "Parameters/element size [nm]"}
];
Point(1) = {-t_pt, 0, 0, h}; Point(2) = {0, 0, 0, h}; Point(3) = {t_co, 0, 0, h};
Line(1) = {1, 2}; Line(2) = {2, 3};
Physical Curve("Pt", 1) = {1};
Physical Curve("Co", 2) = {2};
Physical Point("bottom", 1) = {1};
Physical Point("top", 2) = {3};
