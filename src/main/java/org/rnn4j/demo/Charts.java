package org.rnn4j.demo;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.ValueMarker;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.time.Month;
import org.jfree.data.time.TimeSeries;
import org.jfree.data.time.TimeSeriesCollection;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/** PNG line charts with JFreeChart, drawn headless. */
final class Charts {

    static {
        System.setProperty("java.awt.headless", "true");
    }

    private static final Color[] COLORS = {
        new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c), new Color(0xff7f0e), new Color(0x9467bd)};

    private Charts() {
    }

    /** One named curve of (x, y) points. */
    record Curve(String name, double[] x, double[] y, boolean dashed) {
    }

    /** A line chart of {@code curves} written to {@code png}. */
    static void lines(Path png, String title, String xLabel, String yLabel, List<Curve> curves, boolean logY) {
        XYSeriesCollection data = new XYSeriesCollection();
        for (Curve c : curves) {
            XYSeries s = new XYSeries(c.name(), false, true);
            for (int i = 0; i < c.x().length; i++) {
                s.add(c.x()[i], c.y()[i]);
            }
            data.addSeries(s);
        }
        JFreeChart chart = ChartFactory.createXYLineChart(title, xLabel, yLabel, data);
        XYPlot plot = chart.getXYPlot();
        if (logY) {
            org.jfree.chart.axis.LogAxis axis = new org.jfree.chart.axis.LogAxis(yLabel);
            axis.setSmallestValue(1e-6);
            plot.setRangeAxis(axis);
        } else {
            ((org.jfree.chart.axis.NumberAxis) plot.getRangeAxis()).setAutoRangeIncludesZero(false);
        }
        style(plot, curves.stream().map(Curve::dashed).toList());
        write(png, chart);
    }

    /** One named monthly series, {@code values[i]} for the month {@code months[start + i]} ({@code yyyy-MM}). */
    record MonthlyCurve(String name, List<String> months, int start, double[] values, boolean dashed) {
    }

    /** A monthly time-series chart with a vertical marker at {@code splitMonth} (e.g. where the forecast starts). */
    static void monthly(Path png, String title, String yLabel, List<MonthlyCurve> curves, String splitMonth) {
        TimeSeriesCollection data = new TimeSeriesCollection();
        for (MonthlyCurve c : curves) {
            TimeSeries s = new TimeSeries(c.name());
            for (int i = 0; i < c.values().length; i++) {
                s.add(month(c.months().get(c.start() + i)), c.values()[i]);
            }
            data.addSeries(s);
        }
        JFreeChart chart = ChartFactory.createTimeSeriesChart(title, "month", yLabel, data);
        XYPlot plot = chart.getXYPlot();
        if (splitMonth != null) {
            ValueMarker m = new ValueMarker(month(splitMonth).getFirstMillisecond());
            m.setPaint(Color.GRAY);
            m.setStroke(new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {4f, 4f}, 0f));
            m.setLabel("forecast starts");
            m.setLabelOffset(new org.jfree.chart.ui.RectangleInsets(10, 50, 10, 10));
            plot.addDomainMarker(m);
        }
        style(plot, curves.stream().map(MonthlyCurve::dashed).toList());
        write(png, chart);
    }

    private static Month month(String yyyyMm) {
        String[] p = yyyyMm.split("-");
        return new Month(Integer.parseInt(p[1]), Integer.parseInt(p[0]));
    }

    private static void style(XYPlot plot, List<Boolean> dashed) {
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(new Color(0xdddddd));
        plot.setRangeGridlinePaint(new Color(0xdddddd));
        XYLineAndShapeRenderer r = new XYLineAndShapeRenderer(true, false);
        for (int i = 0; i < dashed.size(); i++) {
            r.setSeriesPaint(i, COLORS[i % COLORS.length]);
            r.setSeriesStroke(i, dashed.get(i)
                    ? new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 10f, new float[] {6f, 4f}, 0f)
                    : new BasicStroke(2f));
        }
        plot.setRenderer(r);
    }

    private static void write(Path png, JFreeChart chart) {
        chart.setBackgroundPaint(Color.WHITE);
        try {
            Path parent = png.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            ChartUtils.saveChartAsPNG(png.toFile(), chart, 900, 500);
        } catch (IOException e) {
            throw new UncheckedIOException("writing " + png, e);
        }
    }
}
