# bench/growth.gp — cost growth plot: time per random insert and bytes per
# atom against document size, weave and the peers (gnuplot; data from
# bench/combine.mjs). Usage: gnuplot -e "dir='bench/results'" bench/growth.gp
if (!exists("dir")) dir = "bench/results"
set terminal pngcairo size 1100,460 font ",10"
set output dir."/growth.png"
set datafile missing "?"
set multiplot layout 1,2 title "weave vs peers: cost growth (".system("date -u +%Y-%m-%d").", 2 cores)"
set logscale x
set xlabel "document size (atoms / chars)"
set key top left
set grid
set logscale y
set ylabel "ns per random single-char insert"
stats dir."/growth.dat" nooutput
ncols = STATS_columns
plot for [i=2:ncols:2] dir."/growth.dat" using 1:i with linespoints lw 2 title columnhead(i)[1:strstrt(columnhead(i),"_insert")-1]
set ylabel "bytes per atom (peers: RSS growth)"
plot for [i=3:ncols:2] dir."/growth.dat" using 1:i with linespoints lw 2 title columnhead(i)[1:strstrt(columnhead(i),"_bytes")-1]
unset multiplot
