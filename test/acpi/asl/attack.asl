// Methods that attack the AML reader's bounds (test/acpi/aml_test.cc):
// each must end as a bounded error, never as a crash or a memory blowup.
DefinitionBlock ("", "SSDT", 2, "UDRV", "ATTACK", 1)
{
    External (\EXT0, IntObj)
    Scope (\_SB)
    {
        // A method that names \EXT0 while Divide holds it as its remainder
        // target: the name must not replace the External and vanish with
        // the method, leaving the store to a node that is gone.
        Device (ERAS)
        {
            Name (_HID, "UDRV0205")
            Method (MKPK, 0, NotSerialized)
            {
                Name (\EXT0, 0x05)
                Return (Package (1) { Zero })
            }
            Method (_CRS, 0, NotSerialized)
            {
                Divide (10, 3, \EXT0, Index (MKPK (), Zero))
                Return (ResourceTemplate () { IO (Decode16, 0x60, 0x60, 1, 1) })
            }
        }
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
