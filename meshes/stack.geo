// A spin-valve stack in 1D: fixed layer / spacer / free layer along x, the nanopillar of
// spin_valve.geo reduced to its axis (a pillar with uniform layers and a uniform current along
// its axis has no lateral dependence, so both give the same accumulation and torque per area).
// Lengths in nm. Regions: fixed, spacer, free. Boundaries: bottom (x = 0), top.
DefineConstant[
  t_fixed = {10, Name "Parameters/fixed layer [nm]"},
  t_spacer = {5, Name "Parameters/spacer [nm]"},
  t_free = {10, Name "Parameters/free layer [nm]"},
  h = {0.25, Name "Parameters/element size [nm]"}
];
z1 = t_fixed; z2 = t_fixed + t_spacer; z3 = z2 + t_free;
Point(1) = {0, 0, 0, h}; Point(2) = {z1, 0, 0, h}; Point(3) = {z2, 0, 0, h}; Point(4) = {z3, 0, 0, h};
Line(1) = {1, 2}; Line(2) = {2, 3}; Line(3) = {3, 4};
Physical Curve("fixed", 1) = {1};
Physical Curve("spacer", 2) = {2};
Physical Curve("free", 3) = {3};
Physical Point("bottom", 1) = {1};
Physical Point("top", 2) = {4};
