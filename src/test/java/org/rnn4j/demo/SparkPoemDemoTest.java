package org.rnn4j.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;

/** Which master {@code rnn4j spark} uses: spark-submit's, else {@code --master}, else the default; never a silent swap. */
class SparkPoemDemoTest {

    private static SparkPoemDemo.Settings master(String option) {
        return new SparkPoemDemo.Settings(option, "local[2]", 0, 1, 1, 1, 1, 0, "auto", 1, null, 1, false, null);
    }

    @Test
    void sparkSubmitsMasterWinsAndAContradictionIsRefused() {
        SparkConf submitted = new SparkConf(false).set("spark.master", "spark://127.0.0.1:7077");
        assertEquals("spark://127.0.0.1:7077", SparkPoemDemo.master(submitted, master(null)));
        assertEquals("spark://127.0.0.1:7077", SparkPoemDemo.master(submitted, master("spark://127.0.0.1:7077")));
        assertEquals("--master: expected none or spark-submit's master spark://127.0.0.1:7077, got local[2]",
                assertThrows(IllegalArgumentException.class,
                        () -> SparkPoemDemo.master(submitted, master("local[2]"))).getMessage());
    }

    @Test
    void withoutSparkSubmitTheOptionOrTheDefault() {
        SparkConf none = new SparkConf(false);
        assertEquals("local[1]", SparkPoemDemo.master(none, master("local[1]")));
        assertEquals("local[2]", SparkPoemDemo.master(none, master(null)));
    }
}
