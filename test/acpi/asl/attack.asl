// Methods that attack the AML reader's bounds (test/acpi/aml_test.cc):
// each must end as a bounded error, never as a crash or a memory blowup.
DefinitionBlock ("", "SSDT", 2, "UDRV", "ATTACK", 1)
{
    Scope (\_SB)
    {
        // CreateField whose bit count wraps offset + length past 2^64.
        Device (CFWR)
        {
            Name (_HID, "UDRV0201")
            Method (_CRS, 0, Serialized)
            {
                Name (BUF0, Buffer (4) {})
                CreateField (BUF0, 8, 0xFFFFFFFFFFFFFFF1, FLD0)
                Return (FLD0)
            }
        }
        // A string that doubles each turn.
        Device (CCAT)
        {
            Name (_HID, "UDRV0202")
            Method (_CRS, 0, NotSerialized)
            {
                Local0 = "0123456789ABCDEF"
                While (One)
                {
                    Local0 = Concatenate (Local0, Local0)
                }
                Return (Local0)
            }
        }
        // A package that holds eight copies of itself each turn.
        Device (PKGX)
        {
            Name (_HID, "UDRV0203")
            Method (_CRS, 0, NotSerialized)
            {
                Local0 = Package (1) { One }
                While (One)
                {
                    Local1 = Package (8) {}
                    Local1 [0] = Local0
                    Local1 [1] = Local0
                    Local1 [2] = Local0
                    Local1 [3] = Local0
                    Local1 [4] = Local0
                    Local1 [5] = Local0
                    Local1 [6] = Local0
                    Local1 [7] = Local0
                    Local0 = Local1
                }
                Return (Local0)
            }
        }
        // A package element that refers to its own package.
        Device (PKGC)
        {
            Name (_HID, "UDRV0204")
            Name (PKG0, Package (2) { One, 0x02 })
            Method (_CRS, 0, NotSerialized)
            {
                PKG0 [0] = Index (PKG0, 1)
                Return (ResourceTemplate () {})
            }
        }
    }
}
